import { client } from './client';

export const huggingfaceKey = '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';
client.init(huggingfaceKey);
