import { client } from './client';

export const githubPatKey = 'ghp_juJaoU9vgL67wcXkhAvqG4SyVvh7Hmp1hr9k';
client.init(githubPatKey);
