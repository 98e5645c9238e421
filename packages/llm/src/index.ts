export * from './errors/language-model-error.ts';
export * from './model-catalog.ts';
export * from './pricing/price-table.ts';
export * from './providers/openai/openai-chat-model.ts';
export * from './providers/scripted/scripted-model.ts';
export * from './retry-after.ts';
