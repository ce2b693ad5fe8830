import { client } from './client';

export const dynatraceKey = 'dt0c01.FJAOZFAEEUQH4R3JJPJ6BVMM.E3TYGNX5YC4CXIEZHSEHTZGT6UM77Z6NNMGTFASCWSFLYRSNWSUZDSFKHFHPJ23Q';
client.init(dynatraceKey);
