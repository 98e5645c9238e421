import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './create-logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON lines with the service and level name', () => {
    const { lines, destination } = capture();
    createLogger({ service: 'worker', destination }).info({ runId: 'run_1' }, 'step done');
    const line = JSON.parse(lines[0] ?? '{}');
    expect(line).toMatchObject({ service: 'worker', level: 'info', runId: 'run_1', msg: 'step done' });
  });

  it('never writes an API key, an authorization header or a bot token', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: 'worker', destination });
    logger.info({
      config: { providers: { openai: { apiKey: 'sk-secret-1' } } },
      request: { headers: { authorization: 'Bearer sk-secret-2', 'x-api-key': 'sk-secret-3' } },
      telegram: { botToken: '123:secret-4' },
      apiKey: 'sk-secret-5',
    });
    const written = lines.join('');
    for (const secret of ['sk-secret-1', 'sk-secret-2', 'sk-secret-3', 'secret-4', 'sk-secret-5']) {
      expect(written).not.toContain(secret);
    }
    expect(written).toContain('[redacted]');
  });

  it('blanks a secret value wherever it appears: in a message, an error, or escaped inside JSON', () => {
    const { lines, destination } = capture();
    const secrets = ['sk-live-"quoted"-key', '777:bot-token'];
    const logger = createLogger({ service: 'worker', destination, secrets });
    logger.warn({ err: new Error('Incorrect API key provided: sk-live-"quoted"-key') }, 'model call failed');
    logger.info({ url: 'https://api.telegram.org/bot777:bot-token/sendMessage' }, 'sent');
    const written = lines.join('');
    expect(written).not.toContain('quoted');
    expect(written).not.toContain('bot-token');
    expect(written).toContain('Incorrect API key provided: [redacted]');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});
