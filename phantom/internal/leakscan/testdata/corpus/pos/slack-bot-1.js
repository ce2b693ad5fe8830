import { client } from './client';

export const slackBotKey = 'xoxb-267911199184-1437932493125-GI2lLOLqgzsdITxpOqBB2REl';
client.init(slackBotKey);
