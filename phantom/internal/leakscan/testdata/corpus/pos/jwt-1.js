import { client } from './client';

export const jwtKey = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzcWd3N0hpa3B2aFgiLCJyb2xlIjoic2VydmljZV9yb2xlIiwiaWF0IjoxNzAwNzM0ODMxfQ.s6GvPsqNWO1jnhB3qT7ONToR_n99kP_kQM1gBC62QzN';
client.init(jwtKey);
