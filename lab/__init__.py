"""The lab that tests and benchmarks share: a deployment on a real engine, a prober that counts every request,
the test engine that applies the Pulumi program to Docker, and the stand-in images they run. Imports no tests."""
