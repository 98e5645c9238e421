import type { LanguageModel, ModelRef } from '@plainloop/contracts';
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
import {
  createOpenAIClient,
  OpenAIChatModel,
  type OpenAIProviderOptions,
} from './providers/openai/openai-chat-model.ts';

export type ProviderSettings = {
  openai: OpenAIProviderOptions;
  anthropic: AnthropicProviderOptions;
  google: GeminiProviderOptions;
};

export type ModelResolution = { ok: true; model: LanguageModel } | { ok: false; reason: string };

type Provider = {
  /** A key, or a base URL (a gateway, a keyless OpenAI-compatible server, a local fake). */
  configured: boolean;
  /** What to set when it is not. */
  needs: string;
  /** Makes a model; the provider's one client is made on first use. */
  model(modelId: string): LanguageModel;
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

  return { resolve };
}

export type ModelCatalog = ReturnType<typeof createModelCatalog>;
