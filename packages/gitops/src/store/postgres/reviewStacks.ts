/** Review stacks in PostgreSQL: one row per target and pull request (see `ReviewStackStore`). */
import {
  REVIEW_STACK_COLUMNS,
  type ReviewStackRow,
  reviewStackFromRow,
  reviewStackValues,
} from "../sqlite/reviewStacks.js";
import type { ReviewStackRecord, ReviewStackStore } from "../store.js";
import type { Queryable, Row } from "./pool.js";

type PgRow = Row & ReviewStackRow;

export class PostgresReviewStacks implements ReviewStackStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async putReviewStack(record: ReviewStackRecord): Promise<void> {
    const params = reviewStackValues(record);
    const updates = REVIEW_STACK_COLUMNS.split(", ")
      .slice(2)
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(", ");
    await this.#db.query(
      `INSERT INTO driftless_review_stacks (${REVIEW_STACK_COLUMNS})
       VALUES (${params.map((_, i) => `$${i + 1}`).join(", ")})
       ON CONFLICT (target, number) DO UPDATE SET ${updates}`,
      params,
    );
  }

  async getReviewStack(target: string, number: number): Promise<ReviewStackRecord | undefined> {
    const { rows } = await this.#db.query<PgRow>(
      "SELECT * FROM driftless_review_stacks WHERE target = $1 AND number = $2",
      [target, number],
    );
    return rows[0] ? reviewStackFromRow(rows[0]) : undefined;
  }

  async listReviewStacks(target?: string): Promise<ReviewStackRecord[]> {
    const { rows } =
      target === undefined
        ? await this.#db.query<PgRow>(
            "SELECT * FROM driftless_review_stacks ORDER BY created_at, target, number",
          )
        : await this.#db.query<PgRow>(
            "SELECT * FROM driftless_review_stacks WHERE target = $1 ORDER BY created_at, number",
            [target],
          );
    return rows.map(reviewStackFromRow);
  }

  async deleteReviewStack(target: string, number: number): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      "DELETE FROM driftless_review_stacks WHERE target = $1 AND number = $2",
      [target, number],
    );
    return rowCount > 0;
  }
}
