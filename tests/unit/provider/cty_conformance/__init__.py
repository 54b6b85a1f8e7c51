"""Conformance of our cty codecs with go-cty (cty/msgpack, cty/json), the
encoder Terraform itself uses. The cases are our own data, written from the
rules that go-cty's and terraform-plugin-go's tests establish (which bytes
each kind of value takes, what each decoder converts or refuses)."""
