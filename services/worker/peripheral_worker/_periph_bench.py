print("periph-bench start", flush=True)
