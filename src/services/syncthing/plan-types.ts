/**
 * The syncthing service's plan types: its slice of the ClusterPlan (syncthing). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */

export interface SyncthingFolderPlan {
  readonly id: string;
  readonly path: string;
  readonly hosts: readonly string[];
  readonly rescanIntervalS: number;
  readonly fsWatcherDelayS: number;
}

export interface SyncthingPlan {
  readonly hosts: readonly string[];
  readonly folders: readonly SyncthingFolderPlan[];
  readonly guiPort: number;
  readonly listenPort: number;
}

/** The syncthing service's slice of the ClusterPlan. */
export interface SyncthingSlice {
  readonly syncthing?: SyncthingPlan;
}
