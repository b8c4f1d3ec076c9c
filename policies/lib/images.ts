/** An image reference, split as the container runtime reads it. */
export interface ImageReference {
    /** Registry and path, without tag or digest: `ghcr.io/huggingface/text-generation-inference`. */
    readonly repository: string;
    readonly tag?: string;
    readonly digest?: string;
}

export function parseImage(image: string): ImageReference {
    const [name, digest] = image.split("@", 2);
    const lastSlash = name.lastIndexOf("/");
    const colon = name.indexOf(":", lastSlash + 1);
    // A colon before the last slash is a registry port (`reg:5000/img`), not a tag.
    return colon === -1
        ? { repository: name, digest }
        : { repository: name.slice(0, colon), tag: name.slice(colon + 1), digest };
}

/** `vllm/vllm-openai` and `docker.io/vllm/vllm-openai` are one repository. */
export function sameRepository(a: string, b: string): boolean {
    const normal = (repository: string) => repository.replace(/^(docker\.io|index\.docker\.io)\//, "").replace(/^library\//, "");
    return normal(a) === normal(b);
}
