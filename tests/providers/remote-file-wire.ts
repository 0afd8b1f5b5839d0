/**
 * The RemoteFile provider as the engine calls it (the packed wire shape: `connection`, `spec`,
 * `content`, `maskSalt`, `facts`), seen through the flat model the provider tests are written in:
 * inputs and old outputs are packed before the call, outputs unpacked after it. Every call goes
 * through `remoteFileProvider` itself.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import {
  isPackedRemoteFile,
  packRemoteFileInputs,
  packRemoteFileOutputs,
  remoteFileOutputsOf,
  remoteFileProvider,
  type RemoteFileDiffResult,
  type RemoteFileInputs,
  type RemoteFileOutputs,
  type RemoteFileWireOutputs,
} from "../../src/providers/remote-file";

const packIn = (i: RemoteFileInputs) => (isPackedRemoteFile(i) ? i : packRemoteFileInputs(i));
const packOut = (o: RemoteFileOutputs) => (isPackedRemoteFile(o) ? o : packRemoteFileOutputs(o));
const flatOut = (o: unknown) => remoteFileOutputsOf(o as RemoteFileWireOutputs);

export const flatRemoteFileProvider = {
  async check(olds: RemoteFileInputs, news: RemoteFileInputs): Promise<{ inputs: RemoteFileInputs; failures?: dynamic.CheckFailure[] }> {
    const r = await remoteFileProvider.check!(Object.keys(olds).length ? packIn(olds) : olds, packIn(news));
    return { ...r, inputs: news };
  },
  diff(_id: string, olds: RemoteFileOutputs, news: RemoteFileInputs): Promise<RemoteFileDiffResult> {
    return remoteFileProvider.diff!(_id, packOut(olds), packIn(news));
  },
  async create(inputs: RemoteFileInputs): Promise<{ id: string; outs: RemoteFileOutputs }> {
    const r = await remoteFileProvider.create(packIn(inputs));
    return { id: r.id, outs: flatOut(r.outs) };
  },
  async update(_id: string, olds: RemoteFileOutputs, news: RemoteFileInputs): Promise<{ outs: RemoteFileOutputs }> {
    const r = await remoteFileProvider.update!(_id, packOut(olds), packIn(news));
    return { outs: flatOut(r.outs) };
  },
  async read(id: string, props?: RemoteFileOutputs): Promise<dynamic.ReadResult<RemoteFileOutputs>> {
    const r = await remoteFileProvider.read!(id, props && packOut(props));
    return r.props === undefined
      ? (r as dynamic.ReadResult<RemoteFileOutputs>)
      : { ...(r.id === undefined ? {} : { id: r.id }), props: flatOut(r.props) };
  },
  async delete(_id: string, props: RemoteFileOutputs): Promise<void> {
    await remoteFileProvider.delete!(_id, packOut(props));
  },
};
