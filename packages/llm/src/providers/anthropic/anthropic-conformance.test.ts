import { type RecordedRequest, startFakeAnthropicServer } from '@plainloop/testing';
import { describeLanguageModelConformance } from '../../conformance/language-model-conformance.ts';
import { AnthropicMessagesModel, createAnthropicClient } from './anthropic-messages-model.ts';

type Body = {
  system?: string;
  tools?: Array<{ name: string }>;
  output_config?: { format?: { schema?: unknown } };
};
const body = (request: RecordedRequest) => request.body as unknown as Body;

describeLanguageModelConformance({
  provider: 'anthropic',
  startServer: startFakeAnthropicServer,
  createModel: (baseUrl) =>
    new AnthropicMessagesModel(
      'claude-sonnet-4-6',
      createAnthropicClient({ apiKey: 'sk-ant-test', baseUrl }),
    ),
  overloadedStatus: 529,
  wire: {
    system: (request) => body(request).system,
    toolNames: (request) => (body(request).tools ?? []).map((tool) => tool.name),
    responseSchema: (request) => body(request).output_config?.format?.schema,
  },
});
