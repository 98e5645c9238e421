import { fakeTokenCount } from './fake-embedding.ts';
import type { FakeEmbeddingProtocol, RecordedRequest, WireResponse } from './fake-provider-server.ts';

/** The only embedding call the SDK makes to the Developer API, for one text or many. */
const batchEmbedPath = /^\/(v1|v1beta)\/models\/([^/:]+):batchEmbedContents$/;

/** The API's limit on requests in one batch. */
const maxRequests = 100;

type EmbedRequest = { model?: string; content?: { parts?: Array<{ text?: unknown }> } };

function requestsOf(request: RecordedRequest): EmbedRequest[] {
  const requests = request.body.requests;
  return Array.isArray(requests) ? (requests as EmbedRequest[]) : [];
}

/** The text of one request: Gemini embeds all the text parts of a content as one. */
function textOf(embedRequest: EmbedRequest): string {
  return (embedRequest.content?.parts ?? []).map((part) => String(part.text ?? '')).join('');
}

/** The rules of the real API a client can break: some requests, at most 100, each for the URL's model. */
function invalidRequest(request: RecordedRequest): string | undefined {
  const requests = requestsOf(request);
  if (requests.length === 0) return '* BatchEmbedContentsRequest.requests: requests is not specified';
  if (requests.length > maxRequests) {
    return `* BatchEmbedContentsRequest.requests: at most ${maxRequests} requests can be in one batch`;
  }
  const model = `models/${batchEmbedPath.exec(request.path)?.[2]}`;
  for (const [index, embedRequest] of requests.entries()) {
    if (embedRequest.model !== model) {
      return `* BatchEmbedContentsRequest.requests[${index}].model: the model must be ${model}, as in the URL`;
    }
    const parts = embedRequest.content?.parts ?? [];
    if (parts.length === 0 || parts.some((part) => typeof part.text !== 'string')) {
      return `* BatchEmbedContentsRequest.requests[${index}].content.parts: text parts are required`;
    }
  }
  return undefined;
}

/** The batchEmbedContents wire body: one `values` list per request, in order. */
function embeddings(vectors: number[][], texts: string[]): WireResponse {
  const tokens = fakeTokenCount(texts);
  return {
    status: 200,
    body: {
      embeddings: vectors.map((values) => ({ values })),
      usageMetadata: { promptTokenCount: tokens, totalTokenCount: tokens },
    },
  };
}

/** `POST /{v1,v1beta}/models/<model>:batchEmbedContents`, as `ai.models.embedContent` calls it. */
export const geminiEmbeddingProtocol: FakeEmbeddingProtocol = {
  isEmbed: (method, path) => method === 'POST' && batchEmbedPath.test(path),
  invalidRequest,
  textsOf: (request) => requestsOf(request).map(textOf),
  embeddings,
};
