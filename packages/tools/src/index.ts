export * from './define-tool.ts';
export * from './errors/tool-error.ts';
export * from './run-tool.ts';
export * from './validate-tool-call.ts';
