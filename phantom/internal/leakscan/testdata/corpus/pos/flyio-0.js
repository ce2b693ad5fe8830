import { client } from './client';

export const flyioKey = 'fo1_kb5iyWELt5NETS0wehQr72iRie9GYSFt1sswGMcqLD7';
client.init(flyioKey);
