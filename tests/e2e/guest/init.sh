#!/bin/sh
# PID 1 of the nested test host (no systemd): mount what the daemons need,
# start udevd, virtlogd and libvirtd, run what the host asked for (the
# share's request.json) with the guest's Python, copy the logs into the
# share, power off. The share ("out") is this VM's only way out: results,
# logs and the console.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# /tmp stays on the root disk.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /mnt/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /mnt/out
hostname nested-usb-host
echo nested-usb-host > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 nested-usb-host\n' > /etc/hosts
ip link set lo up

log() { echo "e2e-init: $(cut -d' ' -f1 /proc/uptime) s: $*"; }

log "starting udevd"
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add
udevadm settle --timeout=120
log "udev settled"

mkdir -p /var/log/libvirt /run/libvirt
echo 'log_outputs="3:file:/var/log/libvirt/libvirtd.log"' \
    >> /etc/libvirt/libvirtd.conf
virtlogd -d
libvirtd -d
log "libvirtd started"

cd /opt/nova-usb-src
PYTHONPATH=/opt/nova-usb-src PYTHONUNBUFFERED=1 \
    OS_NOVA_DISABLE_EVENTLET_PATCHING=1 \
    /opt/nova-usb/bin/python -m tests.e2e.guest.runner /mnt/out \
    > /mnt/out/guest.log 2>&1
echo "$?" > /mnt/out/guest.status
log "runner exited with $(cat /mnt/out/guest.status)"

mkdir -p /mnt/out/libvirt
cp -r /var/log/libvirt/. /mnt/out/libvirt/ 2>/dev/null
sync

# Then, when the run asks for it, this host becomes the cloud's USB node
# (tests/cloud/nested.py): sshd on the virtio-serial port, one connection
# at a time, with the run's key; the outer side powers QEMU off.
if [ -f /mnt/out/cloud/authorized_keys ]; then
    mkdir -p /root/.ssh /run/sshd /mnt/out/cloud/logs
    ssh-keygen -A  # host keys, unless the package made them
    chmod 700 /root/.ssh
    cp /mnt/out/cloud/authorized_keys /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
    port=/dev/virtio-ports/org.openstack.nova-usb.ssh
    (
        while :; do
            /usr/sbin/sshd -i -e -o PermitRootLogin=prohibit-password \
                0<>"$port" 1>&0 2>>/mnt/out/cloud/logs/sshd.log
            sleep 1
        done
    ) &
    log "sshd serves the cloud's tunnel"
    touch /mnt/out/cloud/ready
    while :; do sleep 3600; done
fi
/bin/busybox poweroff -f
