/**
 * Resource transforms, applied to the objects a chart renders the way the engine applies them
 * to a component's children: pulumi/pulumi pkg/resource/deploy/source_eval.go (RegisterResource)
 * runs the resource's own transforms, then each ancestor's, nearest first, then the stack's, each
 * by calling the program's callback server with a TransformRequest (wrapTransformCallback).
 */
import * as grpc from "@grpc/grpc-js";
import { CallbacksClient } from "@pulumi/pulumi/proto/callback_grpc_pb";
import { CallbackInvokeRequest, CallbackInvokeResponse } from "@pulumi/pulumi/proto/callback_pb";
import { TransformRequest, TransformResourceOptions, TransformResponse } from "@pulumi/pulumi/proto/resource_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { rpc } from "./internals";

/** A `transforms` entry as the engine receives it: a token on the program's callback server. */
export interface TransformCallback {
    readonly target: string;
    readonly token: string;
}

/** The resource a transform sees. */
export interface TransformSubject {
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parentUrn: string;
    readonly props: Record<string, unknown>;
}

/** Runs the callbacks in order, each on the previous one's result; returns the final properties. */
export async function applyTransforms(callbacks: readonly TransformCallback[], subject: TransformSubject): Promise<Record<string, unknown>> {
    let props = subject.props;
    for (const callback of callbacks) {
        props = await invokeTransform(callback, { ...subject, props });
    }
    return props;
}

const clients = new Map<string, CallbacksClient>();

function clientFor(target: string): CallbacksClient {
    let client = clients.get(target);
    if (!client) {
        client = new CallbacksClient(target, grpc.credentials.createInsecure());
        clients.set(target, client);
    }
    return client;
}

/** Closes the connections to callback servers; the plan calls it when it is done. */
export function closeTransformClients(): void {
    clients.forEach((client) => client.close());
    clients.clear();
}

async function invokeTransform(callback: TransformCallback, subject: TransformSubject): Promise<Record<string, unknown>> {
    const request = new TransformRequest()
        .setType(subject.type)
        .setName(subject.name)
        .setCustom(subject.custom)
        .setParent(subject.parentUrn)
        .setProperties(Struct.fromJavaScript(await rpc.serializeProperties("transform", subject.props) as Record<string, never>))
        .setOptions(new TransformResourceOptions());
    const invoke = new CallbackInvokeRequest().setToken(callback.token).setRequest(request.serializeBinary());
    const response = await new Promise<CallbackInvokeResponse>((resolve, reject) => {
        clientFor(callback.target).invoke(invoke, (error, result) => (error || !result ? reject(error ?? new Error("no response")) : resolve(result)));
    });
    const properties = TransformResponse.deserializeBinary(response.getResponse_asU8()).getProperties();
    return properties ? rpc.deserializeProperties(properties) : subject.props;
}
