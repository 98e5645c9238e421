import type { EmbeddingModel, LanguageModel, ModelRef } from '@plainloop/contracts';
import {
  AnthropicMessagesModel,
  type AnthropicProviderOptions,
  createAnthropicClient,
} from './providers/anthropic/anthropic-messages-model.ts';
import {
  createGeminiClient,
  GeminiModel,
  type GeminiProviderOptions,
} from './providers/google/gemini-model.ts';
import { GoogleEmbeddingModel } from './providers/google/google-embedding-model.ts';
import {
  createOpenAIClient,
  OpenAIChatModel,
  type OpenAIProviderOptions,
} from './providers/openai/openai-chat-model.ts';
import { OpenAIEmbeddingModel } from './providers/openai/openai-embedding-model.ts';
import { scriptedEmbeddingModel } from './providers/scripted/scripted-embedding-model.ts';

export type ProviderSettings = {
  openai: OpenAIProviderOptions;
  anthropic: AnthropicProviderOptions;
  google: GeminiProviderOptions;
};

export type ModelResolution = { ok: true; model: LanguageModel } | { ok: false; reason: string };

export type EmbeddingModelResolution = { ok: true; model: EmbeddingModel } | { ok: false; reason: string };

type Provider = {
  /** A key, or a base URL (a gateway, a keyless OpenAI-compatible server, a local fake). */
  configured: boolean;
  /** What to set when it is not. */
  needs: string;
  /** Makes a model; the provider's one client is made on first use. */
  model(modelId: string): LanguageModel;
  /** Makes an embedding model on the same client; absent for a provider without embeddings. */
  embeddingModel?(modelId: string): EmbeddingModel;
};

function lazily<Client>(create: () => Client): () => Client {
  let client: Client | undefined;
  return () => {
    client ??= create();
    return client;
  };
}

/**
 * Turns model refs (`provider:model`) into LanguageModels for this process. A provider is available
 * when it is configured; its client is made once, on first use, with SDK retries off. Model objects
 * (scripted or custom) pass through as they are.
 */
export function createModelCatalog(given: Partial<ProviderSettings>) {
  const settings: ProviderSettings = { openai: {}, anthropic: {}, google: {}, ...given };
  const openai = lazily(() => createOpenAIClient(settings.openai));
  const anthropic = lazily(() => createAnthropicClient(settings.anthropic));
  const google = lazily(() => createGeminiClient(settings.google));
  const providers: Record<string, Provider> = {
    openai: {
      configured: Boolean(settings.openai.apiKey || settings.openai.baseUrl),
      needs: 'OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless server)',
      model: (modelId) => new OpenAIChatModel(modelId, openai()),
      embeddingModel: (modelId) => new OpenAIEmbeddingModel(modelId, openai()),
    },
    anthropic: {
      configured: Boolean(settings.anthropic.apiKey || settings.anthropic.baseUrl),
      needs: 'ANTHROPIC_API_KEY',
      model: (modelId) => new AnthropicMessagesModel(modelId, anthropic()),
    },
    google: {
      configured: Boolean(settings.google.apiKey || settings.google.baseUrl),
      needs: 'GEMINI_API_KEY',
      model: (modelId) => new GeminiModel(modelId, google()),
      embeddingModel: (modelId) => new GoogleEmbeddingModel(modelId, google()),
    },
  };
  const cache = new Map<ModelRef, LanguageModel>();

  function resolve(reference: ModelRef | LanguageModel): ModelResolution {
    if (typeof reference !== 'string') return { ok: true, model: reference };
    const cached = cache.get(reference);
    if (cached) return { ok: true, model: cached };
    const separator = reference.indexOf(':');
    const name = reference.slice(0, separator);
    if (name === 'scripted') {
      return {
        ok: false,
        reason: `${reference}: scripted models are passed as objects made by scriptedModel()`,
      };
    }
    const provider = providers[name];
    if (!provider) {
      const known = [...Object.keys(providers), 'scripted'].join(', ');
      return { ok: false, reason: `${reference}: unknown provider "${name}" (known: ${known})` };
    }
    if (!provider.configured) return { ok: false, reason: `${reference} needs ${provider.needs}` };
    const model = provider.model(reference.slice(separator + 1));
    cache.set(reference, model);
    return { ok: true, model };
  }

  const embeddingCache = new Map<ModelRef, EmbeddingModel>();

  function embeddingModelFor(reference: ModelRef): EmbeddingModelResolution {
    const separator = reference.indexOf(':');
    const name = reference.slice(0, separator);
    const modelId = reference.slice(separator + 1);
    if (name === 'scripted') {
      const hashed = /^hashed(?:-([1-9]\d*))?$/.exec(modelId);
      if (!hashed)
        return { ok: false, reason: `${reference}: the scripted embedding model is scripted:hashed` };
      return { ok: true, model: scriptedEmbeddingModel(hashed[1] ? { dimensions: Number(hashed[1]) } : {}) };
    }
    const provider = providers[name];
    if (!provider) {
      const known = [...Object.keys(providers), 'scripted'].join(', ');
      return { ok: false, reason: `${reference}: unknown provider "${name}" (known: ${known})` };
    }
    if (!provider.embeddingModel)
      return { ok: false, reason: `${reference}: ${name} has no embedding models` };
    if (!provider.configured) return { ok: false, reason: `${reference} needs ${provider.needs}` };
    return { ok: true, model: provider.embeddingModel(modelId) };
  }

  /**
   * Embedding models by ref (`openai:text-embedding-3-small`, `google:gemini-embedding-001`), on the
   * chat models' settings and clients. `scripted:hashed` (or `scripted:hashed-<dimensions>`) is the
   * offline one, named by ref since, unlike a scripted chat model, it needs no script.
   */
  function resolveEmbedding(reference: ModelRef | EmbeddingModel): EmbeddingModelResolution {
    if (typeof reference !== 'string') return { ok: true, model: reference };
    const cached = embeddingCache.get(reference);
    if (cached) return { ok: true, model: cached };
    const resolution = embeddingModelFor(reference);
    if (resolution.ok) embeddingCache.set(reference, resolution.model);
    return resolution;
  }

  return { resolve, resolveEmbedding };
}

export type ModelCatalog = ReturnType<typeof createModelCatalog>;
