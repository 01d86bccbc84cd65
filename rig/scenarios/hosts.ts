/** The rig hosts every scenario snapshots: rig-h4 is in no stack file; rig-multi adds it and takes it out again. */
export const ALL_HOSTS = [1, 2, 3, 4];
