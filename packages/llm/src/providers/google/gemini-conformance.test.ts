import { type RecordedRequest, startFakeGeminiServer } from '@plainloop/testing';
import { describeLanguageModelConformance } from '../../conformance/language-model-conformance.ts';
import { createGeminiClient, GeminiModel } from './gemini-model.ts';

type Body = {
  systemInstruction?: { parts?: Array<{ text?: string }> };
  tools?: Array<{ functionDeclarations?: Array<{ name: string }> }>;
  generationConfig?: { responseJsonSchema?: unknown };
};
const body = (request: RecordedRequest) => request.body as unknown as Body;

describeLanguageModelConformance({
  provider: 'google',
  startServer: startFakeGeminiServer,
  createModel: (baseUrl) =>
    new GeminiModel('gemini-2.5-flash', createGeminiClient({ apiKey: 'g-test', baseUrl })),
  overloadedStatus: 503,
  wire: {
    system: (request) => body(request).systemInstruction?.parts?.[0]?.text,
    toolNames: (request) =>
      (body(request).tools?.[0]?.functionDeclarations ?? []).map((declaration) => declaration.name),
    responseSchema: (request) => body(request).generationConfig?.responseJsonSchema,
  },
});
