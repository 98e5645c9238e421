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
});
