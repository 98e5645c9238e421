import { z } from 'zod';
import { defineAgent } from '../define-agent.ts';

const twin = () =>
  defineAgent({
    name: 'twin',
    instructions: 'x',
    input: z.object({}),
    models: { plan: ['openai:gpt-4.1'], execute: ['openai:gpt-4.1'] },
  });

export default [twin(), twin()];
