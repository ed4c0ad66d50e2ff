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


"""nova-usb-sandbox with two probes, for the load suite.

    umockdev-wrapper python -m tests.load.launcher SANDBOX_ARGS...

runs ``nova-usb-sandbox`` (its ``main``, unchanged) and appends one JSON
line per finished call to the file named by $NOVA_USB_LOAD_PROBE:

* ``{"at": "api", ...}``: every HTTP request to nova-api's nova-usb routes
  (method, path, start, end), timed around the WSGI application, inside
  the HTTP server's thread for that request;
* ``{"at": "compute", ...}``: every ``attach_device`` call nova-usb's RPC
  endpoint on the compute host receives (server, device, start, end and
  its outcome: ``attached`` or the refusal's exception class), timed
  before the compute host takes any lock.

Times are ``time.monotonic()``, one clock for every process of the machine
(CLOCK_MONOTONIC), so the test compares them with its own. The probes only
time calls; they change no argument, result or exception.

The test starts this module under ``umockdev-wrapper`` itself, so that the
sandbox's ``--demo-devices`` finds umockdev preloaded and does not
re-execute ``nova_usb_sandbox.cli`` (which would leave the probes behind).
"""

import json
import os
import sys
import threading
import time

from nova_usb_sandbox import cli
from nova_usb_sandbox import config as sandbox_config
from nova_usb_sandbox import launcher
from nova_usb_sandbox import web

PROBE_ENV = 'NOVA_USB_LOAD_PROBE'
API_PATH = '/compute/v2.1/'


class Probe(object):
    """Appends records to the probe file, one line each, whole lines."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._out = open(path, 'a', buffering=1)

    def record(self, **values):
        line = json.dumps(values) + '\n'
        with self._lock:
            self._out.write(line)


def _outcome(error):
    # oslo.messaging's expected_exceptions wraps the endpoint's refusals.
    exc_info = getattr(error, 'exc_info', None)
    if exc_info and exc_info[1] is not None:
        error = exc_info[1]
    return type(error).__name__


def probe_api(probe):
    """Time nova-usb's routes as nova-api's WSGI application runs them."""
    dispatch = web.Dispatcher.__call__

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if not (path.startswith(API_PATH) and 'os-usb-' in path):
            return dispatch(self, environ, start_response)
        began = time.monotonic()
        status = []

        def start(code, headers, *args):
            status.append(code.split()[0])
            return start_response(code, headers, *args)
        try:
            return dispatch(self, environ, start)
        finally:
            probe.record(at='api', method=environ.get('REQUEST_METHOD'),
                         path=path, start=began, end=time.monotonic(),
                         status=status[0] if status else None,
                         thread=threading.get_ident())

    web.Dispatcher.__call__ = __call__


def probe_compute(probe):
    """Time attach_device on the compute host's nova-usb RPC endpoint.

    Installed once the sandbox has chosen Nova's threading mode: importing
    nova_usb.rpc imports Nova.
    """
    from nova_usb import rpc as usb_rpc
    attach = usb_rpc.UsbComputeEndpoint.attach_device

    def attach_device(self, context, **kwargs):
        began = time.monotonic()
        outcome = 'attached'
        try:
            return attach(self, context, **kwargs)
        except Exception as error:
            outcome = _outcome(error)
            raise
        finally:
            probe.record(at='compute', server=kwargs['instance'].uuid,
                         device=kwargs.get('device_id'), start=began,
                         end=time.monotonic(), outcome=outcome,
                         thread=threading.get_ident())

    usb_rpc.UsbComputeEndpoint.attach_device = attach_device


def main(argv=None):
    probe = Probe(os.environ[PROBE_ENV])
    probe_api(probe)
    start_services = launcher.Sandbox._start_services

    def _start_services(sandbox):
        probe_compute(probe)
        return start_services(sandbox)

    launcher.Sandbox._start_services = _start_services
    # The races are for one device between servers, not for quota: with
    # Nova's unified limits every attach first asks keystone, about five
    # calls, which spreads the fifty attaches out (at most a handful then
    # reach the compute host at once) and doubles the suite's time. The
    # quota check itself is tested in tests/functional/api/test_quotas.py
    # and, on the real keystone, in tests/sandbox.
    sandbox_config.QUOTA_DRIVER = 'nova.quota.DbQuotaDriver'
    return cli.main(sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    sys.exit(main())
