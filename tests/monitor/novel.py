"""A request type the packaged model has never seen (calculus homework), for the input-drift tests."""

_FUNCS = ["x^2", "sin x", "e^x", "ln x", "x^3 + 2x", "cos 2x", "tan x", "sqrt x", "1/x", "x e^x"]
_ASKS = ["Differentiate f(x) = {f} with respect to x.", "Find the derivative of {f}.", "What is d/dx of {f}?",
         "Compute the first derivative of y = {f}."]
CALCULUS = [(a.format(f=f), f"The derivative of {f} follows from the chain rule, term by term.")
            for f in _FUNCS for a in _ASKS]
