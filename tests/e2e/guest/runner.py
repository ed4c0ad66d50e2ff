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

"""Inside the nested host: run what request.json in the share asks for.

``{"mode": "tests", "suites": [module, ...]}`` runs those unittest modules
and writes ``results.json`` into the share after every test (so a run cut
short still tells what passed); ``{"mode": "benchmark"}`` runs
benchmarks/usb_passthrough.py and writes its report.
"""

import json
import os
import sys
import time
import traceback
import unittest


class RecordingResult(unittest.TextTestResult):
    """unittest's text result that also writes results.json as it goes."""

    def __init__(self, path, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = path
        self.records = []
        self._began = None

    def startTest(self, test):
        self._began = time.monotonic()
        super().startTest(test)

    def _record(self, test, status, detail=''):
        self.records.append({
            'test': test.id(), 'status': status, 'detail': detail,
            'seconds': round(time.monotonic() - (self._began or
                                                 time.monotonic()), 1)})
        with open(self.path + '.new', 'w') as out:
            json.dump(self.records, out, indent=1)
        os.replace(self.path + '.new', self.path)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, 'passed')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, 'failed', self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, 'failed', self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, 'skipped', reason)


def run_tests(out_dir, suites):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in suites:
        began = time.monotonic()
        suite.addTests(loader.loadTestsFromName(name))
        print('imported %s in %.1f s' % (name, time.monotonic() - began),
              flush=True)
    path = os.path.join(out_dir, 'results.json')
    runner = unittest.TextTestRunner(
        stream=sys.stdout, verbosity=2,
        resultclass=lambda *a, **k: RecordingResult(path, *a, **k))
    result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


def main(argv):
    out_dir = argv[0]
    os.environ['NOVA_USB_E2E_OUT'] = out_dir
    with open(os.path.join(out_dir, 'request.json')) as source:
        request = json.load(source)
    try:
        if request['mode'] == 'benchmark':
            from benchmarks import usb_passthrough
            return usb_passthrough.main(request.get('args', []))
        return run_tests(out_dir, request['suites'])
    except Exception:
        traceback.print_exc()
        return 2


if __name__ == '__main__':
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit(): Nova's libvirt event and executor threads would
    # keep the interpreter (and so the nested host) up.
    os._exit(code)
