import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ModelConfig } from "../../config";

/**
 * The one bearer key of every model that requires one (`apiKey: required`), secret: the stack's
 * `apiKeyValue`, or generated once and kept in the stack's state. A generated key is letters and
 * digits only, and long: TGI compares it case-insensitively (components/model-server/engines.ts).
 * Undefined when no model requires a key.
 */
export function modelApiKey(models: readonly Pick<ModelConfig, "apiKey">[], apiKeyValue: pulumi.Output<string> | undefined): pulumi.Output<string> | undefined {
    if (!models.some((model) => model.apiKey === "required")) {
        return undefined;
    }
    return pulumi.secret(apiKeyValue ?? new random.RandomPassword("model-api-key", { length: 48, special: false }).result);
}
