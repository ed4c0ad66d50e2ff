#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The nested test host's disk, kernel and initramfs, built by the run.

Everything comes from Debian packages (mmdebstrap, with this machine's apt
sources) and from the Python packages of this checkout (built into wheels
by this machine's pip, with constraints.txt, then installed in a chroot of
the new root file system, so nothing inside the VM downloads anything):

* ``base/``: Debian 12 with libvirtd, QEMU, udev and a kernel, and a
  virtualenv ``/opt/nova-usb`` holding nova-usb's dependencies (and
  openstack-placement, which benchmarks/usb_passthrough.py runs). It
  depends only on the package list below, the extra wheels named here,
  requirements, constraints and setup.cfg, and is kept under a name
  hashed from them, so that reruns in the same
  checkout skip it; a new checkout builds it again (nothing needs the cache).
* per run: a copy of ``base/`` with this checkout's nova-usb wheel, its
  tests and the guest's init, written into an ext4 image (``root.img``);
  the uncompressed kernel (``vmlinux``, booted directly: decompressing under
  TCG costs seconds) and a busybox initramfs that mounts the root disk.
"""

import glob
import hashlib
import json
import lzma
import os
import shutil
import stat
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VENV = '/opt/nova-usb'
SOURCE = '/opt/nova-usb-src'
INIT = '/sbin/nova-usb-e2e-init'
ROOT_IMAGE_SIZE = 6 * 1024 ** 3
# Debian packages of the nested host. No systemd runs inside: the guest's
# init starts udevd, virtlogd and libvirtd itself. tiny-initramfs stands in
# for initramfs-tools (the kernel package wants one); the busybox initramfs
# below is the one booted.
PACKAGES = (
    'linux-image-amd64', 'tiny-initramfs', 'busybox-static', 'kmod',
    'udev', 'usbutils', 'iproute2', 'procps',
    'libvirt-daemon-system', 'libvirt-clients', 'qemu-system-x86',
    'qemu-utils', 'python3-venv',
    # The cloud's tunnel to its USB node (sshd -i on a virtio-serial port)
    'openssh-server',
)
# Loaded by the initramfs, in dependency order (modprobe --show-depends).
INITRAMFS_MODULES = ('virtio_pci', 'virtio_blk', 'ext4', 'crc32c_generic',
                     '9pnet_virtio', '9p')
GUEST_ONLY_WHEELS = ('async-timeout',)
# What benchmarks/usb_passthrough.py runs beside nova-usb: a real placement
# in its process (benchmarks/placement_service.py).
BENCHMARK_WHEELS = ('openstack-placement',)
HASHED_FILES = ('requirements.txt', 'constraints.txt', 'setup.cfg',
                'client/requirements.txt', 'client/setup.cfg')
# This checkout's distributions the nested host runs: nova-usb and the
# client package it requires, built from client/ (the driver suite and the
# cloud's nova-compute need nothing of the sandbox or the dashboard).
DISTRIBUTIONS = (TOP, os.path.join(TOP, 'client'))
OWN_WHEELS = ('nova_usb-*.whl', 'python_nova_usbclient-*.whl')


class BuildError(Exception):
    pass


def _run(args, log, **kwargs):
    """Run a command; its output goes to the build log."""
    log.write('$ %s\n' % ' '.join(args))
    log.flush()
    result = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, **kwargs)
    if result.returncode != 0:
        raise BuildError('%s exited with %d (see %s)' % (
            args[0], result.returncode, log.name))


def _apt_sources():
    """This machine's apt source files, given to mmdebstrap as mirrors."""
    found = []
    if os.path.getsize('/etc/apt/sources.list') if os.path.exists(
            '/etc/apt/sources.list') else 0:
        found.append('/etc/apt/sources.list')
    for pattern in ('*.list', '*.sources'):
        found.extend(sorted(glob.glob('/etc/apt/sources.list.d/' + pattern)))
    if not found:
        raise BuildError('no apt sources on this machine')
    return found


def base_key(command):
    """What the base depends on: its mmdebstrap command and input files."""
    digest = hashlib.sha256(json.dumps(
        [command, GUEST_ONLY_WHEELS, BENCHMARK_WHEELS]).encode())
    for name in HASHED_FILES:
        with open(os.path.join(TOP, name), 'rb') as source:
            digest.update(source.read())
    return digest.hexdigest()[:16]


def build_wheels(wheelhouse, log, dependencies):
    """This checkout's wheels, and with dependencies=True all they need."""
    os.makedirs(wheelhouse, exist_ok=True)
    args = [sys.executable, '-m', 'pip', 'wheel', '--quiet',
            '--wheel-dir', wheelhouse,
            '-c', os.path.join(TOP, 'constraints.txt')]
    if not dependencies:
        _run(args + ['--no-deps'] + list(DISTRIBUTIONS), log)
        return
    # The guest's Python is Debian's 3.11.2, for which redis also needs
    # async-timeout (python_full_version < "3.11.3").
    _run(args + list(DISTRIBUTIONS) + list(GUEST_ONLY_WHEELS) +
         list(BENCHMARK_WHEELS), log)


def build_base(cache_dir, log):
    """Debian root file system + dependencies' virtualenv, cached by key."""
    wheelhouse = os.path.join(cache_dir, 'wheelhouse')
    command = [
        'mmdebstrap', '--variant=apt', '--mode=root',
        '--include=' + ','.join(PACKAGES),
        '--customize-hook=copy-in %s /tmp' % wheelhouse,
        '--customize-hook=chroot "$1" python3 -m venv %s' % VENV,
        # Every dependency, from the wheels only: nothing is downloaded.
        '--customize-hook=chroot "$1" sh -c "%s/bin/pip install --quiet '
        '--no-index --find-links /tmp/wheelhouse /tmp/wheelhouse/*.whl"'
        % VENV,
        '--customize-hook=rm -rf "$1"/tmp/wheelhouse']
    sources = _apt_sources()
    base = os.path.join(cache_dir, 'base-' + base_key(command + sources))
    if os.path.isfile(os.path.join(base, '.complete')):
        log.write('base image: cached %s\n' % base)
        return base
    for stale in glob.glob(os.path.join(cache_dir, 'base-*')):
        shutil.rmtree(stale)
    shutil.rmtree(wheelhouse, ignore_errors=True)
    build_wheels(wheelhouse, log, dependencies=True)
    for pattern in OWN_WHEELS:
        for wheel in glob.glob(os.path.join(wheelhouse, pattern)):
            os.unlink(wheel)
    _run(command + ['bookworm', base] + sources, log)
    open(os.path.join(base, '.complete'), 'w').close()
    shutil.rmtree(wheelhouse)
    return base


def kernel_version(root):
    versions = os.listdir(os.path.join(root, 'lib/modules'))
    if len(versions) != 1:
        raise BuildError('expected one kernel, found %s' % versions)
    return versions[0]


def extract_vmlinux(bzimage, target):
    """The ELF kernel inside a bzImage (xz), as scripts/extract-vmlinux."""
    with open(bzimage, 'rb') as source:
        data = source.read()
    start = data.find(b'\xfd7zXZ\x00')
    while start >= 0:
        try:
            elf = lzma.LZMADecompressor().decompress(data[start:])
        except lzma.LZMAError:
            elf = b''
        if elf.startswith(b'\x7fELF'):
            with open(target, 'wb') as out:
                out.write(elf)
            return
        start = data.find(b'\xfd7zXZ\x00', start + 1)
    raise BuildError('no xz-compressed ELF kernel in %s' % bzimage)


def _cpio_entry(name, mode, data=b''):
    """One "newc" cpio header and its data, padded to 4 bytes."""
    name = name.encode() + b'\0'
    fields = (0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0)
    header = b'070701' + b''.join(b'%08X' % f for f in fields)
    entry = header + name
    entry += b'\0' * (-len(entry) % 4) + data
    return entry + b'\0' * (-len(entry) % 4)


INITRAMFS_INIT = """#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mount -t proc proc /proc
%(insmod)s
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do
    /bin/busybox sleep 0.1; n=$((n+1))
done
/bin/busybox mount -t ext4 /dev/vda /root || exec /bin/busybox sh
/bin/busybox umount /proc
/bin/busybox mount --move /dev /root/dev
exec /bin/busybox switch_root /root %(init)s
"""


def build_initramfs(root, version, target):
    """busybox + the modules to mount the virtio root disk, then init."""
    modules = []
    for wanted in INITRAMFS_MODULES:
        shown = subprocess.run(
            ['chroot', root, 'modprobe', '--show-depends', '-S', version,
             wanted], check=True, capture_output=True, text=True).stdout
        for line in shown.splitlines():
            words = line.split()
            if words and words[0] == 'insmod' and words[1] not in modules:
                modules.append(words[1])
    entries = [_cpio_entry(d, stat.S_IFDIR | 0o755)
               for d in ('bin', 'dev', 'proc', 'root', 'modules')]
    with open(os.path.join(root, 'bin/busybox'), 'rb') as busybox:
        entries.append(_cpio_entry('bin/busybox', stat.S_IFREG | 0o755,
                                   busybox.read()))
    insmod = []
    for path in modules:
        name = 'modules/' + os.path.basename(path)
        with open(os.path.join(root, path.lstrip('/')), 'rb') as module:
            entries.append(_cpio_entry(name, stat.S_IFREG | 0o644,
                                       module.read()))
        insmod.append('/bin/busybox insmod /%s' % name)
    init = INITRAMFS_INIT % {'insmod': '\n'.join(insmod), 'init': INIT}
    entries.append(_cpio_entry('init', stat.S_IFREG | 0o755, init.encode()))
    entries.append(_cpio_entry('TRAILER!!!', 0))
    with open(target, 'wb') as out:
        out.write(b''.join(entries))


def build(work_dir, log):
    """Build everything a run boots; returns (root.img, vmlinux, initrd).

    :param work_dir: holds the cache (``cache/``) and this run (``run/``)
    """
    began = time.monotonic()
    cache_dir = os.path.join(work_dir, 'cache')
    run_dir = os.path.join(work_dir, 'image')
    os.makedirs(cache_dir, exist_ok=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    base = build_base(cache_dir, log)
    log.write('base ready after %.0f s\n' % (time.monotonic() - began))

    root = os.path.join(run_dir, 'root')
    _run(['cp', '-a', '--reflink=auto', base, root], log)
    wheelhouse = os.path.join(run_dir, 'wheels')
    build_wheels(wheelhouse, log, dependencies=False)
    wheels = []
    for pattern in OWN_WHEELS:
        wheel, = glob.glob(os.path.join(wheelhouse, pattern))
        shutil.copy(wheel, os.path.join(root, 'tmp'))
        wheels.append('/tmp/' + os.path.basename(wheel))
    _run(['chroot', root, VENV + '/bin/pip', 'install', '--quiet',
          '--no-index', '--no-deps'] + wheels, log)
    for wheel in wheels:
        os.unlink(os.path.join(root, wheel.lstrip('/')))
    # The tests and benchmarks the guest runs, from this checkout.
    source = os.path.join(root, SOURCE.lstrip('/'))
    os.makedirs(source)
    for part in ('tests', 'benchmarks'):
        shutil.copytree(os.path.join(TOP, part), os.path.join(source, part),
                        ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(os.path.join(TOP, 'tests/e2e/guest/init.sh'),
                os.path.join(root, INIT.lstrip('/')))
    os.chmod(os.path.join(root, INIT.lstrip('/')), 0o755)
    # No KVM inside (nested TCG is faster than this machine's KVM in TCG).
    with open(os.path.join(root, 'etc/modprobe.d/nova-usb-e2e.conf'),
              'w') as conf:
        conf.write('blacklist kvm\nblacklist kvm_amd\nblacklist kvm_intel\n')

    version = kernel_version(root)
    vmlinux = os.path.join(run_dir, 'vmlinux')
    extract_vmlinux(os.path.join(root, 'boot', 'vmlinuz-' + version),
                    vmlinux)
    initrd = os.path.join(run_dir, 'initrd')
    build_initramfs(root, version, initrd)

    image = os.path.join(run_dir, 'root.img')
    with open(image, 'wb') as out:
        out.truncate(ROOT_IMAGE_SIZE)
    _run(['mkfs.ext4', '-q', '-F', '-L', 'nova-usb-e2e', '-d', root, image],
         log)
    shutil.rmtree(root)
    log.write('image ready after %.0f s\n' % (time.monotonic() - began))
    return image, vmlinux, initrd


def main():
    """``python -m tests.e2e.image``: only the base, in the cache of
    ``python -m tests.e2e.run`` (which then finds it), so that it can be
    built while other suites run (tools/run-suites.sh). Prints how long it
    took; its log is ``.tox/e2e/base-build.log``.
    """
    work_dir = os.path.join(TOP, '.tox', 'e2e')
    cache_dir = os.path.join(work_dir, 'cache')
    os.makedirs(cache_dir, exist_ok=True)
    began = time.monotonic()
    with open(os.path.join(work_dir, 'base-build.log'), 'w') as log:
        try:
            base = build_base(cache_dir, log)
        except BuildError as error:
            print('e2e base image: %s' % error)
            return 1
    print('e2e base image: %s ready after %.0f s' % (
        base, time.monotonic() - began))
    return 0


if __name__ == '__main__':
    sys.exit(main())
