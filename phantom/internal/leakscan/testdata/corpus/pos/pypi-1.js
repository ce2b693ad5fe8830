import { client } from './client';

export const pypiKey = 'pypi-AgEIcHlwaS5vcmcFQFGvRAM1xqjv-ccTbtV_fxCroi_feH_jG5-Z3mgsEY-X5mJD5kMnxKs87_-jgoyY1UVEq';
client.init(pypiKey);
