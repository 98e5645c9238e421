import { type BudgetDetail, PlainloopError } from '@plainloop/contracts';

/** A model call refused because it would take a run or its tenant over a budget. */
export class BudgetExceededError extends PlainloopError {
  readonly detail: BudgetDetail;

  constructor(message: string, detail: BudgetDetail) {
    super('budget_exceeded', message);
    this.detail = detail;
  }
}
