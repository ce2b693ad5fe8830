import { client } from './client';

export const anthropicKey = 'sk-ant-api03-vYE4lJ8VITac86opVBLLaS4xbYDbuHsdgHDOIkjlv_mEDX9DghHlFlT3KJYdwwyHzxO9wv4MxQGOXwd_g_YOLMnkzITHMAA';
client.init(anthropicKey);
