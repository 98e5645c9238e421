import type { FakeReply, RecordedRequest } from '@plainloop/testing';

type ChatMessage = { role: string; content: string | null };

export type ChaosModelOptions = {
  /** Where the payment tool records its executions. */
  effectsDirectory: string;
  /** Where the crunch tool leaves its first-run marker. */
  markerDirectory: string;
  /** How long the crunch tool blocks its worker's event loop the first time. */
  blockMs?: number;
  /** How long the model takes to answer. */
  delayMs?: number | ((request: RecordedRequest) => number);
};

/**
 * The fake model behind the chaos fixtures' agents, told apart by their instructions: a deterministic
 * script per agent, driven by how many tool results the conversation holds, so any worker that takes
 * a run over gets the same answers.
 */
export function chaosModel(options: ChaosModelOptions) {
  return (request: RecordedRequest): FakeReply => {
    const messages = request.body.messages as ChatMessage[];
    const instructions = messages.find((message) => message.role === 'system')?.content ?? '';
    const results = messages.filter((message) => message.role === 'tool');
    const delayMs = typeof options.delayMs === 'function' ? options.delayMs(request) : (options.delayMs ?? 0);
    const reply = (fields: Omit<Extract<FakeReply, { kind: 'completion' }>, 'kind'>): FakeReply => ({
      kind: 'completion',
      delayMs,
      usage: { prompt: 200, completion: 20 },
      ...fields,
    });
    if (instructions.startsWith('Pay')) {
      if (results.length === 0)
        return reply({
          toolCalls: [{ name: 'pay', arguments: { amount: 10, effectsDirectory: options.effectsDirectory } }],
        });
      if (results.length === 1)
        return reply({
          toolCalls: [{ name: 'lookup', arguments: { effectsDirectory: options.effectsDirectory } }],
        });
      return reply({ text: 'paid and checked' });
    }
    if (instructions.startsWith('Crunch')) {
      if (results.length === 0) {
        return reply({
          toolCalls: [
            {
              name: 'crunch',
              arguments: { markerDirectory: options.markerDirectory, blockMs: options.blockMs ?? 0 },
            },
          ],
        });
      }
      return reply({ text: 'crunched' });
    }
    if (instructions.startsWith('Refund')) {
      if (results.length === 0)
        return reply({ toolCalls: [{ name: 'refund', arguments: { orderId: 'order-42' } }] });
      return reply({ text: `refund result: ${results[0]?.content}` });
    }
    return reply({ text: 'answered' });
  };
}
