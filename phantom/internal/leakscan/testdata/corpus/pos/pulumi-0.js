import { client } from './client';

export const pulumiKey = 'pul-b72edccae395b924e129667f19d29a2829eeca4e';
client.init(pulumiKey);
