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

"""Inside the nested host: ask the outer machine to change our USB.

The outer side (tests/e2e/vm.py) turns each request into QMP commands on
the QEMU that runs us: device_del is a real unplug (the kernel here sees
the device go), device_add a real plug.
"""

import json
import subprocess
import threading

PORT = '/dev/virtio-ports/org.openstack.nova-usb.control'
_lock = threading.Lock()
_channel = None


class ControlError(Exception):
    pass


def _request(**request):
    global _channel
    with _lock:
        if _channel is None:
            _channel = open(PORT, 'r+b', buffering=0)
        _channel.write(json.dumps(request).encode() + b'\n')
        line = b''
        while not line.endswith(b'\n'):
            chunk = _channel.read(4096)
            if not chunk:
                raise ControlError('control port closed')
            line += chunk
    answer = json.loads(line)
    if 'error' in answer:
        raise ControlError(answer['error'])
    return answer


def settle():
    subprocess.run(['udevadm', 'settle', '--timeout=60'], check=True)


def topology():
    """The outer side's topology: devices (with current ports), free ports.
    """
    return _request(op='topology')


def unplug(device):
    """Pull a device out; returns once QEMU reports it gone."""
    _request(op='unplug', device=device)
    settle()


def plug(device):
    """Plug a device back in, at its last port."""
    _request(op='plug', device=device)
    settle()


def move(device, port):
    """Unplug a device and plug it in at another port."""
    _request(op='move', device=device, port=port)
    settle()
