print("pan")
