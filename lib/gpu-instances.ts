import { INSTANCE_TYPES } from "./instance-types";

/** x86_64 instance families with whole NVIDIA GPUs: what the GPU pool (AL2023_x86_64_NVIDIA) runs. */
export const NVIDIA_X86_FAMILIES = ["g4dn", "g5", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200"] as const;

/** Every family with NVIDIA GPUs, for telling GPU node groups apart: also fractional GPUs (g6f, gr6f) and Arm (g5g). */
export const NVIDIA_GPU_FAMILIES: readonly string[] = [...NVIDIA_X86_FAMILIES, "g6f", "gr6f", "g5g"];

/**
 * NVIDIA GPUs per EC2 instance type, from lib/instance-types.ts (the AWS accelerated-computing
 * instance pages). The config checks `gpuPool.gpusPerNode` against it and the policy pack sizes GPU
 * pools with it; a type missing here is accepted by the config and unknown to the policy.
 */
export const GPUS_PER_INSTANCE_TYPE: Readonly<Record<string, number>> = Object.fromEntries(
    Object.entries(INSTANCE_TYPES).flatMap(([type, facts]): [string, number][] => facts.gpu ? [[type, facts.gpu.count]] : []));
