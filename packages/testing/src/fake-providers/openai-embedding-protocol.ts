import { fakeTokenCount } from './fake-embedding.ts';
import type { FakeEmbeddingProtocol, RecordedRequest, WireResponse } from './fake-provider-server.ts';

/** The API's limit on inputs in one request. */
const maxInputs = 2048;

const invalidInput =
  "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

/** `input` as a list of texts; `invalidRequest` has already refused anything else. */
function textsOf(request: RecordedRequest): string[] {
  const input = request.body.input;
  return typeof input === 'string' ? [input] : (input as string[]);
}

function invalidRequest(request: RecordedRequest): string | undefined {
  const { input, model, encoding_format: encoding } = request.body;
  if (typeof model !== 'string' || model === '') return 'you must provide a model parameter';
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || texts.length > maxInputs) return invalidInput;
  // The API refuses an empty string; a token array is valid there but is not text the fake can embed.
  if (texts.some((text) => typeof text !== 'string' || text === '')) return invalidInput;
  if (encoding !== undefined && encoding !== 'float' && encoding !== 'base64') {
    return `Invalid value for 'encoding_format': '${String(encoding)}'. Supported values are: 'float' and 'base64'.`;
  }
  return undefined;
}

/** What `encoding_format: 'base64'` sends: the vector's float32 values, little-endian, base64-encoded. */
function base64Of(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * Float32Array.BYTES_PER_ELEMENT);
  vector.forEach((value, index) => {
    bytes.writeFloatLE(value, index * Float32Array.BYTES_PER_ELEMENT);
  });
  return bytes.toString('base64');
}

/** The embeddings wire body as the OpenAI API sends it; floats unless the request asked for base64. */
function embeddings(
  vectors: number[][],
  texts: string[],
  request: RecordedRequest,
  sequence: number,
): WireResponse {
  const base64 = request.body.encoding_format === 'base64';
  const tokens = fakeTokenCount(texts);
  return {
    status: 200,
    headers: { 'x-request-id': `req_embedding_${sequence}` },
    body: {
      object: 'list',
      data: vectors.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? base64Of(vector) : vector,
      })),
      model: String(request.body.model),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
  };
}

/** `POST /v1/embeddings`, as the OpenAI SDK calls it. */
export const openaiEmbeddingProtocol: FakeEmbeddingProtocol = {
  isEmbed: (method, path) => method === 'POST' && path === '/v1/embeddings',
  invalidRequest,
  textsOf,
  embeddings,
};
