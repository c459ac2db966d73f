"""The post-fix-monitoring agent: its tools, its LLM-free runbook driver, and its report."""
