import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { parseImage, sameRepository } from "./images";
import type { ContainerRef, Workload } from "./pods";
import { asString } from "./values";

export const MODEL_SERVER_LABEL = "llm-platform.io/role";

/** Serving engines recognised by image, as POLICIES.md defines a model server. */
export const DEFAULT_MODEL_SERVER_IMAGES = [
    "vllm/vllm-openai",
    "ghcr.io/huggingface/text-generation-inference",
    "ollama/ollama",
];

export const modelServerImagesSchema: PolicyConfigJSONSchema = {
    type: "array",
    items: { type: "string" },
    default: DEFAULT_MODEL_SERVER_IMAGES,
    description: "Image repositories of serving engines; a pod running one is a model server.",
};

/** A pod with a serving-engine container, or labelled `llm-platform.io/role: model-server`. */
export function isModelServer(workload: Workload, images: readonly string[] = DEFAULT_MODEL_SERVER_IMAGES): boolean {
    return workload.labels[MODEL_SERVER_LABEL] === "model-server"
        || workload.containers.some(({ container }) => isEngineImage(asString(container.image), images));
}

export function isEngineImage(image: string | undefined, images: readonly string[]): boolean {
    return image !== undefined && images.some((repository) => sameRepository(parseImage(image).repository, repository));
}

/** The containers that serve: those running an engine image, else (a labelled pod) every main container. */
export function servingContainers(workload: Workload, images: readonly string[]): ContainerRef[] {
    const main = workload.containers.filter(({ list }) => list === "containers");
    const engines = main.filter(({ container }) => isEngineImage(asString(container.image), images));
    return engines.length > 0 ? engines : main;
}
