import { describe, expect, it } from "vitest";
import { cronProblem } from "./cron.js";

describe("cronProblem", () => {
  it.each([
    "* * * * *",
    "*/15 * * * *",
    "0 0 * * 0",
    "0 9-17 * * MON-FRI",
    "5,10,15-20/2 * * * *",
    "0 0 1 JAN,jul *",
    "0 0 ? * 7",
    "30 2 15 */2 ?",
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
    "  0 3 * * *  ",
  ])("accepts %j", (schedule) => {
    expect(cronProblem(schedule)).toBeUndefined();
  });

  it.each([
    ["* * * *", "must have 5 fields (minute hour day-of-month month day-of-week), has 4"],
    ["* * * * * *", "has 6"],
    ["60 * * * *", "invalid minute field `60`: 60 is outside 0-59"],
    ["* 24 * * *", "invalid hour field `24`: 24 is outside 0-23"],
    ["* * 0 * *", "invalid day of month field `0`: 0 is outside 1-31"],
    ["* * * 13 *", "invalid month field `13`: 13 is outside 1-12"],
    ["* * * * 8", "invalid day of week field `8`: 8 is outside 0-7"],
    ["* * * FOO *", "`FOO` is not a number or name"],
    ["*/0 * * * *", "step must be at least 1"],
    ["*/x * * * *", "step `x` is not a number"],
    ["1/2/3 * * * *", "has more than one `/`"],
    ["5-1 * * * *", "range `5-1` runs backwards"],
    ["1-2-3 * * * *", "`1-2-3` is not a range"],
    ["1,,2 * * * *", "has an empty list item"],
    ["? * * * *", "`?` is not a number"],
    ["@every 5m", "is not a known macro"],
    ["@often", "is not a known macro"],
    ["TZ=UTC 0 * * * *", "must not set a time zone inline; use `timeZone`"],
  ])("rejects %j", (schedule, reason) => {
    expect(cronProblem(schedule)).toContain(reason);
  });
});
