import { leadQualification } from './lead-qualification.ts';
import { research } from './research.ts';

/** The example agents; `plainloop worker --agents examples/agents/src/index.ts` loads them. */
export default [research, leadQualification];
