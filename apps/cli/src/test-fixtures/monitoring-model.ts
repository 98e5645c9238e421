import type { FakeReply, RecordedRequest } from '@plainloop/testing';

type ChatMessage = { role: string; content: string | null };

/**
 * The fake OpenAI models behind the monitoring agents: `flaky` fails while it is down, `broken` answers
 * 401 quoting the key it was sent (as OpenAI's own error does), `steady` follows the run's `plan`.
 */
export function monitoringModel(state: { flakyIsDown: boolean; delayMs?: number }) {
  return (request: RecordedRequest): FakeReply => {
    const modelId = String(request.body.model);
    if (modelId === 'broken') {
      const key = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
      return {
        kind: 'error',
        status: 401,
        message: `Incorrect API key provided: ${key}`,
        code: 'invalid_api_key',
      };
    }
    if (modelId === 'flaky' && state.flakyIsDown)
      return { kind: 'error', status: 500, message: 'flaky is down' };
    const messages = request.body.messages as ChatMessage[];
    const input = messages.find((message) => message.role === 'user')?.content ?? '';
    const answered = messages.some((message) => message.role === 'tool');
    const reply = (fields: Omit<Extract<FakeReply, { kind: 'completion' }>, 'kind'>): FakeReply => ({
      kind: 'completion',
      delayMs: state.delayMs ?? 0,
      usage: { prompt: 400, completion: 60, cached: 100 },
      ...fields,
    });
    if (answered || input.includes('answer')) return reply({ text: `answered by ${modelId}` });
    if (input.includes('fragile')) {
      return reply({
        toolCalls: [1, 2, 3].map((attempt) => ({ name: 'fragile', arguments: { attempt } })),
      });
    }
    const delayMs = input.includes('slow') ? 2_500 : 0;
    return reply({ toolCalls: [{ name: 'lookup', arguments: { topic: 'redis', delayMs } }] });
  };
}
