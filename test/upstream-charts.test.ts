import * as assert from "assert";
import { validateObjects } from "../tools/offline/schemas";
import { stackFilePath } from "../tools/offline/stack-file";
import { chartProblems } from "../tools/offline/stack-charts";
import { plan } from "../tools/plan";
import { PROJECT_DIR, STACKS } from "./mocks";

/**
 * The stacks rendered with the real upstream charts at their pinned versions. Upstream charts
 * cannot be downloaded where CI runs, so this runs only where a directory of them is given:
 * `LLM_PLATFORM_CHARTS=<dir> npx mocha test/upstream-charts.test.ts`, with `<dir>` filled by
 * `npm run plan -- --stack <s> --pull-charts --charts <dir>` on a machine that reaches the
 * chart repositories.
 */
const CHARTS = process.env.LLM_PLATFORM_CHARTS;

describe("the stacks with the upstream charts (LLM_PLATFORM_CHARTS)", function () {
    this.timeout(300_000);
    before(function () {
        if (!CHARTS) {
            this.skip();
        }
    });

    for (const stack of STACKS) {
        it(`${stack}: every chart renders with no values key ignored, no violation, and every object validates`, async () => {
            const result = await plan(stack, stackFilePath(PROJECT_DIR, stack), { charts: { dir: CHARTS } });
            assert.deepStrictEqual(chartProblems(result.charts), []);
            assert.deepStrictEqual(result.charts.filter((chart) => chart.objects.length === 0).map((chart) => chart.release.chart), []);
            assert.deepStrictEqual(result.report.violations, []);
            const crds = result.objects.filter((object) => object.kind === "CustomResourceDefinition");
            assert.deepStrictEqual(await validateObjects(result.objects, crds), []);
        });
    }
});
