import { type RecordedRequest, startFakeOpenAIServer } from '@plainloop/testing';
import { describeLanguageModelConformance } from '../../conformance/language-model-conformance.ts';
import { createOpenAIClient, OpenAIChatModel } from './openai-chat-model.ts';

type Body = {
  messages: Array<{ role: string; content: string }>;
  tools?: Array<{ function: { name: string } }>;
  response_format?: { json_schema?: { schema?: unknown } };
};
const body = (request: RecordedRequest) => request.body as unknown as Body;

describeLanguageModelConformance({
  provider: 'openai',
  startServer: startFakeOpenAIServer,
  createModel: (baseUrl) =>
    new OpenAIChatModel('gpt-4.1-mini', createOpenAIClient({ apiKey: 'sk-test', baseUrl })),
  overloadedStatus: 503,
  wire: {
    system: (request) => body(request).messages.find((message) => message.role === 'system')?.content,
    toolNames: (request) => (body(request).tools ?? []).map((tool) => tool.function.name),
    responseSchema: (request) => body(request).response_format?.json_schema?.schema,
  },
});
