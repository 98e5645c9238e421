import type { Content, GenerateContentResponse, Part } from '@google/genai';
import type { Message, ToolCall, ToolMessage } from '@plainloop/contracts';

/**
 * The Developer API mostly leaves `functionCall.id` out, and results are matched by id, so the
 * adapter makes ids up: `gemini-call-<responseId>-<index>`, the same for the same response, unique
 * across the run's steps. The prefix is how the round trip tells them apart from ids the API gave:
 * a made-up id was never the API's, so it is not sent back (the call and its response pair by name
 * and order instead); an id the API gave is sent back on both sides.
 */
const madeUpIdPrefix = 'gemini-call-';

function isMadeUpId(id: string): boolean {
  return id.startsWith(madeUpIdPrefix);
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The tool calls of a response, each with an id: the API's, or one made up. */
export function toolCallsOf(response: GenerateContentResponse, modelId: string): ToolCall[] {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  return parts
    .filter((part) => part.functionCall !== undefined)
    .map(({ functionCall: call, thoughtSignature }, index) => ({
      id: call?.id || `${madeUpIdPrefix}${response.responseId ?? 'response'}-${index}`,
      name: call?.name ?? '',
      argumentsJson: JSON.stringify(call?.args ?? {}),
      // Gemini 3 refuses the next turn unless the call comes back with its signature, unchanged; only
      // the model that signed it can check it, so the model is kept with it.
      ...(thoughtSignature ? { providerMetadata: { google: { thoughtSignature, model: modelId } } } : {}),
    }));
}

/** The answer's text: its text parts joined, thought summaries left out. */
export function textOf(response: GenerateContentResponse): string {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  // Not the SDK's `.text` getter: it logs a console warning for every answer that also calls a tool.
  return parts
    .filter((part) => typeof part.text === 'string' && part.thought !== true)
    .map((part) => part.text)
    .join('');
}

function parsedOrText(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

/** Gemini needs `args` as an object; arguments the model garbled are sent as `{}` rather than dropped. */
function argumentsOf(call: ToolCall): Record<string, unknown> {
  const parsed = parsedOrText(call.argumentsJson);
  return isJsonObject(parsed) ? parsed : {};
}

function idOf(id: string): { id?: string } {
  return isMadeUpId(id) ? {} : { id };
}

/**
 * Google's documented stand-in for a signature, for calls Gemini 3 and later did not sign themselves:
 * calls made by another model of the chain (a fallback mid-run), or by another Gemini model.
 */
const unsignedCallSentinel = 'skip_thought_signature_validator';

function requiresSignatures(modelId: string): boolean {
  const generation = /^gemini-(\d+)/.exec(modelId)?.[1];
  return generation !== undefined && Number(generation) >= 3;
}

function signatureFor(call: ToolCall, modelId: string): string | undefined {
  const signed = call.providerMetadata?.google;
  if (typeof signed?.thoughtSignature === 'string' && signed.model === modelId)
    return signed.thoughtSignature;
  return requiresSignatures(modelId) ? unsignedCallSentinel : undefined;
}

function functionCallPart(call: ToolCall, modelId: string): Part {
  const thoughtSignature = signatureFor(call, modelId);
  return {
    functionCall: { ...idOf(call.id), name: call.name, args: argumentsOf(call) },
    ...(thoughtSignature === undefined ? {} : { thoughtSignature }),
  };
}

/**
 * Gemini reads a function response as `{output}` or `{error}`, and it must be an object. A failed
 * tool's content is already `{"error": ...}` (see the transcript), so it is unwrapped rather than
 * nested twice.
 */
function functionResponsePart(message: ToolMessage): Part {
  const parsed = parsedOrText(message.content);
  const response = !message.isError
    ? { output: parsed }
    : { error: isJsonObject(parsed) && Object.keys(parsed).join() === 'error' ? parsed.error : parsed };
  return { functionResponse: { ...idOf(message.toolCallId), name: message.toolName, response } };
}

function partsOf(message: Exclude<Message, { role: 'system' }>, modelId: string): Part[] {
  switch (message.role) {
    case 'user':
      return [{ text: message.content }];
    case 'assistant':
      return [
        ...(message.content === '' ? [] : [{ text: message.content }]),
        ...message.toolCalls.map((call) => functionCallPart(call, modelId)),
      ];
    case 'tool':
      return [functionResponsePart(message)];
  }
}

type GeminiConversation = { systemInstruction: Content | undefined; contents: Content[] };

/**
 * Provider-neutral messages to Gemini contents. System text goes to `systemInstruction` (Gemini has no
 * system turn); tool results are `user` turns. Adjacent turns of one role are merged, which also puts
 * all the results of one step in the single user turn that must follow the model's function calls.
 */
export function toGeminiConversation(messages: readonly Message[], modelId: string): GeminiConversation {
  const systemTexts: string[] = [];
  const contents: Content[] = [];
  for (const message of messages) {
    if (message.role === 'system') {
      systemTexts.push(message.content);
      continue;
    }
    const parts = partsOf(message, modelId);
    // A turn with no parts is refused; an assistant that said nothing and called nothing is skipped.
    if (parts.length === 0) continue;
    const role = message.role === 'assistant' ? 'model' : 'user';
    const last = contents.at(-1);
    if (last?.role === role) last.parts?.push(...parts);
    else contents.push({ role, parts });
  }
  return {
    systemInstruction: systemTexts.length > 0 ? { parts: systemTexts.map((text) => ({ text })) } : undefined,
    contents,
  };
}
