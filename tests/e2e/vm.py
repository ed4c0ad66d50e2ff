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

"""The nested test host: one QEMU (TCG) with emulated USB, and its controls.

Nothing here uses a network: the guest's console goes to a file, results
and logs come out through a 9p share, QMP is a unix socket, and the guest
asks for USB changes (unplug, replug, move) over a virtio-serial port
that this side serves by turning each request into QMP commands.

Protocol on the control port: one JSON object per line each way.
Requests ``{"op": "unplug"|"plug"|"move"|"topology", "device": ID,
"port": PORT}``; answers ``{"ok": true, ...}`` or ``{"error": TEXT}``.
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOPOLOGY = os.path.join(HERE, 'topology.json')
CONTROL_PORT = 'org.openstack.nova-usb.control'
# The cloud's tunnel to its USB node (tests/cloud/nested.py): the guest's
# sshd reads and writes this port.
SSH_PORT = 'org.openstack.nova-usb.ssh'
STICK_SIZE = 16 * 1024 * 1024
MEMORY_MB = 4096
CPUS = 2
QMP_TIMEOUT = 120
PR_SET_PDEATHSIG = 1


class VMError(Exception):
    pass


def load_topology(path=TOPOLOGY):
    with open(path) as source:
        return json.load(source)


def _qdev(properties):
    return ','.join('%s=%s' % item for item in properties)


def device_arguments(device):
    """The qdev properties of one topology device (for -device and QMP)."""
    properties = [('driver', device['driver']), ('id', device['id']),
                  ('bus', device['bus'] + '.0'), ('port', device['port'])]
    if device['driver'] == 'usb-storage':
        properties.append(('drive', 'drive-' + device['id']))
        properties.append(('serial', device.get('serial', '')))
    return properties


def _die_with_parent():
    """In QEMU's child before exec: have the kernel kill QEMU should this
    process die without stopping it (SIGKILL, a crash).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_PDEATHSIG)')


class QMP(object):
    """A minimal QMP client: commands in order, events kept for waiting."""

    def __init__(self, path):
        self._socket = socket.socket(socket.AF_UNIX)
        self._socket.settimeout(QMP_TIMEOUT)
        self._socket.connect(path)
        self._reader = self._socket.makefile('r')
        self.events = []
        self._lock = threading.Lock()
        self._read()  # greeting
        self.execute('qmp_capabilities')

    def _read(self):
        line = self._reader.readline()
        if not line:
            raise VMError('QMP closed')
        return json.loads(line)

    def execute(self, command, **arguments):
        with self._lock:
            request = {'execute': command}
            if arguments:
                request['arguments'] = arguments
            self._socket.sendall(json.dumps(request).encode() + b'\n')
            while True:
                message = self._read()
                if 'event' in message:
                    self.events.append(message)
                    continue
                if 'error' in message:
                    raise VMError('%s: %s' % (
                        command, message['error'].get('desc')))
                return message.get('return')

    def wait_event(self, name, device, timeout=QMP_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self.events:
                    if (event['event'] == name and
                            event.get('data', {}).get('device') == device):
                        self.events.remove(event)
                        return event
                if time.monotonic() > deadline:
                    raise VMError('no %s for %s within %d s'
                                  % (name, device, timeout))
                self.events.append(self._read())

    def close(self):
        self._socket.close()


class NestedHost(object):
    """Boot, control and stop the nested host; every process by its pid."""

    def __init__(self, run_dir, image, vmlinux, initrd, topology=None):
        self.run_dir = run_dir
        self.out_dir = os.path.join(run_dir, 'out')
        self.image, self.vmlinux, self.initrd = image, vmlinux, initrd
        self.topology = topology or load_topology()
        self.devices = {d['id']: dict(d) for d in self.topology['devices']}
        self.process = None
        self.qmp = None
        self._control = None
        self._control_thread = None
        self.control_log = []

    def _drive_arguments(self):
        args = []
        for device in self.topology['devices']:
            if device['driver'] != 'usb-storage':
                continue
            path = os.path.join(self.run_dir, device['id'] + '.img')
            with open(path, 'wb') as disk:
                disk.truncate(STICK_SIZE)
            args += ['-blockdev', 'driver=file,node-name=file-%s,filename=%s'
                     % (device['id'], path),
                     '-blockdev', 'driver=raw,node-name=drive-%s,file=file-%s'
                     % (device['id'], device['id'])]
        return args

    def command(self):
        qmp = os.path.join(self.run_dir, 'qmp.sock')
        control = os.path.join(self.run_dir, 'control.sock')
        args = [
            'qemu-system-x86_64', '-name', 'nova-usb-e2e',
            '-accel', 'tcg,thread=multi', '-cpu', 'max',
            '-smp', str(CPUS), '-m', str(MEMORY_MB),
            '-machine', 'q35', '-nodefaults', '-no-user-config',
            '-display', 'none', '-no-reboot',
            '-serial', 'file:' + os.path.join(self.run_dir, 'console.log'),
            '-kernel', self.vmlinux, '-initrd', self.initrd,
            '-append', 'console=ttyS0 root=/dev/vda rw panic=-1 '
                       'modprobe.blacklist=kvm,kvm_amd,kvm_intel',
            '-drive', 'file=%s,format=raw,if=virtio,cache=unsafe'
            % self.image,
            '-virtfs', 'local,path=%s,mount_tag=out,security_model=none,'
                       'id=out' % self.out_dir,
            '-device', 'virtio-serial-pci,id=serial0',
            '-chardev', 'socket,id=control,path=%s,server=on,wait=off'
            % control,
            '-device', 'virtserialport,chardev=control,name=' + CONTROL_PORT,
            '-chardev', 'socket,id=ssh,path=%s,server=on,wait=off'
            % os.path.join(self.run_dir, 'ssh.sock'),
            '-device', 'virtserialport,chardev=ssh,name=' + SSH_PORT,
            '-qmp', 'unix:%s,server=on,wait=off' % qmp,
        ]
        for controller in self.topology['controllers']:
            properties = [(k, v) for k, v in sorted(controller.items())
                          if k not in ('driver', 'id')]
            args += ['-device', _qdev([('driver', controller['driver']),
                                       ('id', controller['id'])]
                                      + properties)]
        args += self._drive_arguments()
        for device in self.topology['devices']:
            args += ['-device', _qdev(device_arguments(device))]
        return args

    def start(self, request):
        """Boot the VM; request.json tells the guest what to run."""
        os.makedirs(self.out_dir, exist_ok=True)
        with open(os.path.join(self.out_dir, 'request.json'), 'w') as out:
            json.dump(request, out)
        with open(os.path.join(self.run_dir, 'qemu.log'), 'wb') as log:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.qmp = QMP(os.path.join(self.run_dir, 'qmp.sock'))
                break
            except (OSError, VMError):
                if (self.process.poll() is not None or
                        time.monotonic() > deadline):
                    raise VMError('QEMU did not start (see qemu.log)')
                time.sleep(0.2)
        self._control = socket.socket(socket.AF_UNIX)
        self._control.connect(os.path.join(self.run_dir, 'control.sock'))
        self._control_thread = threading.Thread(target=self._serve,
                                                daemon=True)
        self._control_thread.start()

    def wait(self, timeout):
        """Wait for the guest to power off; False when it timed out."""
        try:
            self.process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        """Stop QEMU by its pid (it ends the guest's every process)."""
        if self.qmp is not None:
            self.qmp.close()
            self.qmp = None
        if self._control is not None:
            try:
                self._control.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._control.close()
            self._control = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(20)

    # The guest's requests.

    def _serve(self):
        reader = self._control.makefile('r')
        try:
            for line in reader:
                try:
                    request = json.loads(line)
                    answer = self.handle(request)
                    answer['ok'] = True
                except Exception as error:
                    answer = {'error': '%s: %s' % (
                        type(error).__name__, error)}
                self.control_log.append((time.time(), line.strip(), answer))
                self._control.sendall(json.dumps(answer).encode() + b'\n')
        except (OSError, ValueError):
            pass  # stop() closed the socket

    def handle(self, request):
        op = request['op']
        if op == 'topology':
            return {'devices': list(self.devices.values()),
                    'free_ports': self.topology.get('free_ports', {})}
        device = self.devices[request['device']]
        if op in ('unplug', 'move'):
            self.unplug(device['id'])
        if op == 'move':
            device['port'] = request['port']
        if op in ('plug', 'move'):
            self.plug(device['id'])
        return {'device': device}

    def unplug(self, device_id):
        self.qmp.execute('device_del', id=device_id)
        self.qmp.wait_event('DEVICE_DELETED', device_id)

    def plug(self, device_id):
        self.qmp.execute('device_add',
                         **dict(device_arguments(self.devices[device_id])))
