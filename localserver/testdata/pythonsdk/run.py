# Runs cloudconvert-python's own tests/integration (written for
# CloudConvert's sandbox) against the local server, unchanged: the SDK's
# endpoint maps are pointed at the server before the tests import it.
#
#   python3 run.py <checkout of cloudconvert-python> <server root URL>
#
# The SDK cannot be installed here (no PyPI); the checkout's own package is
# imported, and it needs only `requests`. Started by localserver's
# TestPythonSDKIntegrationSuite; prints "N passed, M failed".
import os
import sys
import unittest

repo, local = sys.argv[1], sys.argv[2].rstrip("/")
sys.path.insert(0, repo)
os.chdir(repo)

import cloudconvert.config as cfg  # noqa: E402

for endpoints, base in ((cfg.__endpoint_map__, local), (cfg.__sync_endpoint_map__, local + "/sync")):
    for mode in list(endpoints):
        endpoints[mode] = base

suite = unittest.defaultTestLoader.discover(os.path.join(repo, "tests", "integration"), pattern="test*.py", top_level_dir=repo)
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors)
print(f"{result.testsRun - failed} passed, {failed} failed")
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
