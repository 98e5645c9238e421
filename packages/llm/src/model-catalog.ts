import type { LanguageModel, ModelRef } from '@plainloop/contracts';
import type OpenAI from 'openai';
import {
  createOpenAIClient,
  OpenAIChatModel,
  type OpenAIProviderOptions,
} from './providers/openai/openai-chat-model.ts';

export type ProviderSettings = {
  openai: OpenAIProviderOptions;
};

export type ModelResolution = { ok: true; model: LanguageModel } | { ok: false; reason: string };

/**
 * Turns model refs (`provider:model`) into LanguageModels for this process. A provider is available
 * when it is configured (a key, or a base URL for keyless OpenAI-compatible servers); its client is
 * made once, on first use. Model objects (scripted or custom) pass through as they are.
 */
export function createModelCatalog(settings: ProviderSettings) {
  let openai: OpenAI | undefined;
  const cache = new Map<ModelRef, LanguageModel>();

  function resolve(reference: ModelRef | LanguageModel): ModelResolution {
    if (typeof reference !== 'string') return { ok: true, model: reference };
    const cached = cache.get(reference);
    if (cached) return { ok: true, model: cached };
    const separator = reference.indexOf(':');
    const provider = reference.slice(0, separator);
    const modelId = reference.slice(separator + 1);
    let model: LanguageModel;
    switch (provider) {
      case 'openai':
        if (!settings.openai.apiKey && !settings.openai.baseUrl) {
          return {
            ok: false,
            reason: `${reference} needs OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless server)`,
          };
        }
        openai ??= createOpenAIClient(settings.openai);
        model = new OpenAIChatModel(modelId, openai);
        break;
      case 'scripted':
        return {
          ok: false,
          reason: `${reference}: scripted models are passed as objects made by scriptedModel()`,
        };
      default:
        return {
          ok: false,
          reason: `${reference}: unknown provider "${provider}" (known: openai, scripted)`,
        };
    }
    cache.set(reference, model);
    return { ok: true, model };
  }

  return { resolve };
}

export type ModelCatalog = ReturnType<typeof createModelCatalog>;
