print("badge-load: being written")
