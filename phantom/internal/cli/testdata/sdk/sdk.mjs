// Run by sdk_e2e_test.go as `phantom exec -- node sdk.mjs`.
//
// The clients are built with no baseURL and no apiKey: they must find both in
// the environment phantom gave them (OPENAI_BASE_URL + OPENAI_API_KEY,
// ANTHROPIC_BASE_URL + ANTHROPIC_API_KEY), exactly as an app would.
//
// Every stdout line is one JSON object. Text that could hold a secret is
// printed a second time base64-encoded (the *_b64 fields): phantom masks the
// child's stdout, so the plain copy alone cannot tell "the proxy scrubbed the
// response before the SDK saw it" from "phantom's output masker hid it".
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const b64 = (s) => Buffer.from(s ?? '', 'utf8').toString('base64');
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const env = process.env;
emit({
  kind: 'env',
  OPENAI_API_KEY: env.OPENAI_API_KEY ?? null,
  OPENAI_API_KEY_b64: b64(env.OPENAI_API_KEY),
  ANTHROPIC_API_KEY: env.ANTHROPIC_API_KEY ?? null,
  ANTHROPIC_API_KEY_b64: b64(env.ANTHROPIC_API_KEY),
  OPENAI_BASE_URL: env.OPENAI_BASE_URL ?? null,
  ANTHROPIC_BASE_URL: env.ANTHROPIC_BASE_URL ?? null,
});

// The prompt quotes the phm token the SDK holds: substitution is scoped to
// credential headers, so the upstream must receive the token, not the key.
const openaiPrompt = `Repeat after me: my key is ${env.OPENAI_API_KEY}`;
const anthropicPrompt = `Repeat after me: my key is ${env.ANTHROPIC_API_KEY}`;

// No retries: one request per call, and a failure surfaces at once.
const openai = new OpenAI({ maxRetries: 0, timeout: 30_000 });
const anthropic = new Anthropic({ maxRetries: 0, timeout: 30_000 });

let failed = false;
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    failed = true;
    emit({ kind: 'error', step: name, status: err?.status ?? null, message: String(err?.message ?? err) });
  }
}

await step('openai', async () => {
  const { data, response } = await openai.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: openaiPrompt }] })
    .withResponse();
  const content = data.choices[0]?.message?.content ?? '';
  const echo = response.headers.get('x-echo-key') ?? '';
  emit({ kind: 'openai', id: data.id, content, content_b64: b64(content), echo_header_b64: b64(echo) });
});

await step('openai_stream', async () => {
  const stream = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: openaiPrompt }],
    stream: true,
  });
  let chunks = 0;
  let content = '';
  let finish = null;
  for await (const chunk of stream) {
    chunks++;
    const choice = chunk.choices[0];
    content += choice?.delta?.content ?? '';
    finish = choice?.finish_reason ?? finish;
  }
  emit({ kind: 'openai_stream', chunks, finish_reason: finish, content, content_b64: b64(content) });
});

await step('anthropic', async () => {
  const msg = await anthropic.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 64,
    messages: [{ role: 'user', content: anthropicPrompt }],
  });
  const content = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  emit({ kind: 'anthropic', id: msg.id, stop_reason: msg.stop_reason, content, content_b64: b64(content) });
});

await step('anthropic_stream', async () => {
  const stream = anthropic.messages.stream({
    model: 'claude-sonnet-4-5',
    max_tokens: 64,
    messages: [{ role: 'user', content: anthropicPrompt }],
  });
  let chunks = 0;
  let content = '';
  for await (const ev of stream) {
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
      chunks++;
      content += ev.delta.text;
    }
  }
  const final = await stream.finalMessage();
  const finalText = final.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  emit({
    kind: 'anthropic_stream',
    chunks,
    stop_reason: final.stop_reason,
    content,
    content_b64: b64(content),
    final_b64: b64(finalText),
  });
});

// Which header carries the key is the SDK's choice (recent @anthropic-ai/sdk
// releases send Authorization: Bearer, older ones and most other clients
// x-api-key). This call sends the token in x-api-key and no Authorization, so
// both of the route's credential headers are exercised whatever the default.
await step('anthropic_xapikey', async () => {
  const msg = await anthropic.messages.create(
    { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: anthropicPrompt }] },
    { headers: { 'x-api-key': env.ANTHROPIC_API_KEY, authorization: null, 'x-e2e-call': 'x-api-key' } },
  );
  const content = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  emit({ kind: 'anthropic_xapikey', id: msg.id, content, content_b64: b64(content) });
});

// A phm token the vault does not know: phantom's proxy answers 403 itself,
// in the provider's error shape, so the SDK's error message is phantom's
// explanation.
const unknownTok = 'phm_' + 'ab'.repeat(32);
for (const [kind, call] of [
  ['openai_refused', () => new OpenAI({ apiKey: unknownTok, maxRetries: 0, timeout: 30_000 }).models.list()],
  ['anthropic_refused', () => new Anthropic({ apiKey: unknownTok, maxRetries: 0, timeout: 30_000 }).messages.create(
    { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'x-api-key': unknownTok, authorization: null } })],
]) {
  try {
    await call();
    failed = true;
    emit({ kind: 'error', step: kind, message: 'the proxy accepted an unknown token' });
  } catch (err) {
    emit({ kind, status: err?.status ?? null, message_b64: b64(String(err?.message ?? err)) });
  }
}

process.exitCode = failed ? 1 : 0;
