package main

func init() { println("periph-bench 145181b24dd2") }
