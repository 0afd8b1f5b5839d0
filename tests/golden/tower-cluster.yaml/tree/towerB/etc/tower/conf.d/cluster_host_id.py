# Managed by haforge. This instance's identity in the cluster: it must equal the hostname the
# instance was provisioned with (`awx-manage provision_instance --hostname=...`).
CLUSTER_HOST_ID = "towerB"
